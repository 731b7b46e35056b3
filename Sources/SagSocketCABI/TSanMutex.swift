// TSanMutex.swift: in the ThreadSanitizer build only (-DSAG_TSAN), the C
// layer's locks are the core's pthread-based Mutex too (see
// Sources/SagSocketCore/Internals/TSanMutex.swift for why).

#if SAG_TSAN
import SagSocketCore

typealias Mutex = SagSocketCore.Mutex
#endif
