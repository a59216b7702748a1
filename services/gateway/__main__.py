"""``python -m services.gateway``: run one gateway instance until SIGTERM."""

from services.gateway.app import run_gateway

if __name__ == "__main__":
    run_gateway()
