"""collector_paused: the garbage collector is off inside the block and as it was afterwards."""

from __future__ import annotations

import gc

import pytest

from proplens._gc import collector_paused


@pytest.fixture
def restore_collector():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_collector_is_off_inside_and_back_on_after(restore_collector):
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_is_back_on_after_an_error(restore_collector):
    gc.enable()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()


def test_nested_blocks_restore_only_at_the_outermost(restore_collector):
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_caller_switched_off_stays_off(restore_collector):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
