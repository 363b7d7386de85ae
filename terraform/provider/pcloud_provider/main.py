"""Entry point of the provider process that Terraform starts: serve the plugin protocol until told to stop."""

from __future__ import annotations


def main() -> None:
    from tf.runner import run_provider

    from pcloud_provider.provider import PcloudProvider

    run_provider(PcloudProvider())


if __name__ == "__main__":
    main()
