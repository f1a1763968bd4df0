import sys

from services.common.logs import serve

from .app import create_app
from .service import BootstrapPasswordRefused, check_bootstrap_password
from .settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    try:
        check_bootstrap_password(settings.admin_password)
    except BootstrapPasswordRefused as exc:
        sys.exit(str(exc))  # a clear message and status 1, before anything starts
    serve(settings, create_app)
