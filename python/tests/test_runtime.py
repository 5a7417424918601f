"""The native layer releases the GIL while it works and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa

import pilum


def test_native_calls_release_the_gil(tmp_path):
    n = 200_000
    table = pa.table({"id": pa.array(range(n), pa.int64()), "v": pa.array([i % 97 for i in range(n)], pa.int64())})
    ds = pilum.write_dataset(table, str(tmp_path / "ds"), max_rows_per_file=20_000)
    in_call = threading.Event()
    done = threading.Event()

    def native_work():
        in_call.set()
        for _ in range(5):
            # Pure native work: filter evaluation over every row, no pyarrow involved.
            ds._ds.count_rows("v * 3 % 7 = 1 AND id % 5 <> 2")
        done.set()

    worker = threading.Thread(target=native_work)
    worker.start()
    in_call.wait()
    spins = 0
    while not done.is_set():
        spins += 1
    worker.join()
    # With the GIL held for the whole call this thread could not run at all.
    assert spins > 10_000, spins


CHILD = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa
    import pilum

    schema = pa.schema([("id", pa.int64())])

    def endless():
        i = 0
        while True:
            yield pa.record_batch([pa.array(range(i, i + 1000), pa.int64())], schema=schema)
            i += 1000
            time.sleep(0.01)

    print("writing", flush=True)
    try:
        pilum.write_dataset(pa.RecordBatchReader.from_batches(schema, endless()), sys.argv[1])
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(0)
    print("finished", flush=True)
    """
)


def test_ctrl_c_interrupts_a_long_write_and_commits_nothing(tmp_path):
    uri = str(tmp_path / "ds")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "writing"
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        raise AssertionError("the write did not stop on Ctrl-C")
    assert "interrupted" in out, (out, err)
    assert child.returncode == 0
    # Nothing was committed: there is no dataset to open.
    assert not os.path.exists(os.path.join(uri, "_versions")) or not os.listdir(os.path.join(uri, "_versions"))


def test_a_forked_child_reads_after_the_parent_did(tmp_path):
    """DataLoader and multiprocessing fork workers from a parent that has
    already read: the child must get a runtime of its own (the parent's
    threads do not survive a fork), not wait forever on the inherited one."""
    uri = str(tmp_path / "ds")
    pilum.write_dataset(pa.table({"id": pa.array(range(50_000), pa.int64())}), uri, max_rows_per_file=10_000)
    script = textwrap.dedent(
        """
        import multiprocessing as mp, sys
        import pilum

        ds = pilum.dataset(sys.argv[1])
        assert ds.to_table().num_rows == 50_000

        def child(queue):
            queue.put((ds.to_table(filter="id % 7 = 3").num_rows, pilum.dataset(sys.argv[1]).count_rows("id < 10")))

        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        worker = ctx.Process(target=child, args=(queue,))
        worker.start()
        print(queue.get(timeout=30))
        worker.join(timeout=60)
        """
    )
    done = subprocess.run([sys.executable, "-c", script, uri], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(7143, 10)"
