"""``python -m services.matcher``: run one matcher instance until SIGTERM."""

from services.common.runtime import run_service
from services.matcher.app import DEFINITION

if __name__ == "__main__":
    run_service(DEFINITION)
