"""Behaviours that follow Sagittarius's source (ext/socket/, socket.scm):
make-server-socket*'s sockets and the defaults of make-client-socket."""
import inspect
import time

import pytest

import sagsocket
from sagsocket import errors as E
from sagsocket import scheme as S

from conftest import Bg, selector_waiting_in


def test_make_server_sockets_one_port_each_and_no_v6only():
    socks = S.make_server_sockets("0")
    try:
        ports = [S.socket_info(s).port for s in socks]
        assert len(set(ports)) == len(ports)
        for s, port in zip(socks, ports):
            v6 = S.socket_info(s).ip_address.is_v6
            # The IPv6 socket is reached as "localhost" with AF_INET6: ::1, or
            # the v4-mapped 127.0.0.1 where /etc/hosts has no ::1.
            c = (S.make_client_socket("localhost", str(port), sagsocket.AF_INET6) if v6
                 else S.make_client_socket("127.0.0.1", str(port)))
            assert S.socket_read_select(5.0, s) == [s]
            a = S.socket_accept(s)
            assert S.socket_peer(a).port == S.socket_info(c).port
            a.close()
            c.close()
    finally:
        for s in socks:
            s.close()


def test_make_client_socket_flags_default_to_v4mapped_only():
    default = inspect.signature(S.make_client_socket).parameters["flags"].default
    assert default == sagsocket.AI_V4MAPPED


def test_make_server_sockets_with_resolver_lists_the_last_first():
    passive = S.make_hint_addrinfo(sagsocket.AF_UNSPEC, sagsocket.SOCK_STREAM,
                                   sagsocket.AI_PASSIVE | sagsocket.AI_NUMERICSERV)
    chain = S.get_addrinfo(None, "0", passive)
    families = []
    ai = chain
    while ai is not None:
        families.append(ai.family)
        ai = ai.next
    made = S.make_server_sockets_with_resolver("0", lambda svc: chain)
    try:
        got = [sagsocket.AF_INET6 if S.socket_info(s).ip_address.is_v6 else sagsocket.AF_INET
               for s in made]
        assert got == families[::-1]
    finally:
        for s in made:
            s.close()


# ---- the selector (Sagittarius's socket-selector.incl, unix-socket-selector.incl)

def test_selector_interrupt_made_before_a_wait_is_remembered():
    sel = S.make_socket_selector()
    try:
        S.socket_selector_interrupt(sel)
        t = Bg(S.socket_selector_wait, sel)  # no timeout: ends only if remembered
        t.start()
        t.join(10)
        remembered = not t.is_alive()
        if not remembered:
            S.socket_selector_interrupt(sel)  # ends it, so the test can go on
        assert remembered
        assert t.join_result() == ([], [])
        # consumed: the next wait blocks until interrupted
        t = selector_waiting_in(sel)
        time.sleep(0.05)
        assert t.is_alive()
        S.socket_selector_interrupt(sel)
        assert t.join_result() == ([], [])
    finally:
        S.close_socket_selector(sel)


def test_selector_wait_ended_by_close_answers_two_empty_lists():
    sel = S.make_socket_selector()
    t = selector_waiting_in(sel)
    S.close_socket_selector(sel)
    assert t.join_result() == ([], [])
    with pytest.raises(E.SocketClosedError):
        S.socket_selector_wait(sel, 0)
