"""``python -m services.onboarding``: run one onboarding instance until SIGTERM."""

from services.common.runtime import run_service
from services.onboarding.app import DEFINITION

if __name__ == "__main__":
    run_service(DEFINITION)
