"""Entry point of the provider process that Terraform starts: serve the plugin protocol until told to stop.

Terraform starts this process several times per plan or apply and waits for each to exit, so both ends count
(README, "Start-up time").
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from tf import runner

    from pcloud_provider import inflight, tls
    from pcloud_provider.provider import PcloudProvider

    tls.use_cached_certificate(runner)
    runner.run_provider(PcloudProvider())
    # Terraform has stopped the server and waits for this process to go. Let a create, update or delete that
    # is still running finish (as the interpreter's teardown would), then skip that teardown: joining idle
    # gRPC threads and freeing every module took most of the time between Terraform's Shutdown and the exit.
    inflight.wait_until_idle()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
