"""Entry point of the provider process that Terraform starts: serve the plugin protocol until told to stop.

Terraform starts this process several times per plan or apply and waits for each to exit, so both ends count
(README, "Start-up time").
"""

from __future__ import annotations

import os
import sys
import threading
import time

# How often the provider looks whether Terraform, its parent, is still there.
PARENT_CHECK_SECONDS = 0.5
# How long an orphaned provider lets a create, update or delete already under way finish before it goes.
ORPHAN_GRACE_SECONDS = 120


def exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def watch_parent(parent: int, check_every: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """End this process when Terraform is gone (killed, say, with the worker that ran it).

    Nothing else would end it: Terraform's Shutdown call never comes, and the plugin server does not notice
    that its client is gone. A cloud change already under way is let finish, so that what it made is tagged
    and can be adopted by the next run; nothing new starts, as no one is left to ask for it."""
    from pcloud_provider import inflight

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_every)
        inflight.wait_until_idle(timeout=ORPHAN_GRACE_SECONDS)
        exit_now(1)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    return watcher


def main() -> None:
    from tf import runner

    from pcloud_provider import inflight, tls
    from pcloud_provider.provider import PcloudProvider

    watch_parent(os.getppid())
    tls.use_cached_certificate(runner)
    runner.run_provider(PcloudProvider())
    # Terraform has stopped the server and waits for this process to go. Let a create, update or delete that
    # is still running finish (as the interpreter's teardown would), then skip that teardown: joining idle
    # gRPC threads and freeing every module took most of the time between Terraform's Shutdown and the exit.
    inflight.wait_until_idle()
    exit_now(0)


if __name__ == "__main__":
    main()
