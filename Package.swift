// swift-tools-version:6.1
// sagsocket: the socket library of Sagittarius Scheme, (sagittarius socket),
// as a Swift library (SagSocketCore) and a C-ABI shared library (libsagsocket.so).
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let mocking: [SwiftSetting] = [
    .define("SAG_MOCKING", .when(configuration: .debug)),
]

let package = Package(
    name: "sagsocket",
    products: [
        // The Swift API, for Swift programs.
        .library(name: "SagSocketCore", targets: ["SagSocketCore"]),
        // The C ABI: libsagsocket.so (the Makefile adds the version script and SONAME).
        .library(name: "sagsocket", type: .dynamic, targets: ["SagSocketCABI"]),
    ],
    targets: [
        // The hand-written C header, as a Clang module so that the exported
        // functions are checked against it (@c @implementation).
        .systemLibrary(name: "CSagSocket", path: "include"),
        // eventfd and epoll, which Swift's Glibc module does not show; the
        // per-call system calls without glibc's cancellation-point wrappers;
        // the thread's wake descriptor in a thread-local variable.
        .target(name: "CSagSocketShims", path: "Sources/CSagSocketShims"),
        // SAG_MOCKING: the syscall script of Sources/SagSocketCore/Internals/Mocking.swift,
        // in debug builds only (swift test); the release library has none.
        .target(name: "SagSocketCore", dependencies: ["CSagSocketShims"], swiftSettings: strict + mocking),
        .target(
            name: "SagSocketCABI",
            dependencies: ["SagSocketCore", "CSagSocket", "CSagSocketShims"],
            swiftSettings: strict + [.enableExperimentalFeature("CImplementation")]
        ),
        .testTarget(name: "SagSocketCoreTests", dependencies: ["SagSocketCore"], swiftSettings: strict + mocking),
    ],
    swiftLanguageModes: [.v6]
)
