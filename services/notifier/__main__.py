"""``python -m services.notifier``: run one notifier instance until SIGTERM."""

from services.common.runtime import run_service
from services.notifier.app import DEFINITION

if __name__ == "__main__":
    run_service(DEFINITION)
