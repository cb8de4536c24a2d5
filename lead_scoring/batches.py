"""Work taken from a queue in batches by a scheduled action."""

import threading


def run_in_committed_batches(env, step, size):
    """Call ``step(limit=size)`` until it handles fewer than ``size`` rows,
    committing after each batch (not under tests, which run in one
    transaction): a crash loses one batch, the next run takes it again.

    :return: the rows handled in all
    """
    commit = not getattr(threading.current_thread(), "testing", False)
    done = 0
    while True:
        count = step(limit=size)
        done += count
        if commit:
            env.cr.commit()  # pylint: disable=invalid-commit
        if count < size:
            return done
