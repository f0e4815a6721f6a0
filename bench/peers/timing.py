"""Timing shared by the peers: the best of several timings of a loop, in nanoseconds per item.

CPU time by default (as bench/run.py times our programs); wall-clock time for the parallel peers,
whose point is to use several cores.
"""
import time
import timeit


def best_ns_per_item(fn, items=1, repeat=7, min_time=0.2, warmup=1, wall_clock=False):
    """Best over `repeat` timings of a loop of calls lasting at least `min_time` s (the first timing
    doubles the call count until it does), in ns per item (`items` items per call)."""
    for _ in range(warmup):
        fn()  # page faults, lazy initialisation
    timer = timeit.Timer(fn, timer=time.perf_counter if wall_clock else time.process_time)
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= min_time:
            break
        number *= 2
    best = min([t] + timer.repeat(repeat=repeat - 1, number=number))
    return best / number / items * 1e9
