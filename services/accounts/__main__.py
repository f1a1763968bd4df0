from services.common.logs import serve

from .app import create_app
from .settings import AccountsSettings

if __name__ == "__main__":
    serve(AccountsSettings(), create_app)
