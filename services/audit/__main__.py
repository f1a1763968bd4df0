from services.common.logs import serve

from .app import create_app
from .settings import AuditSettings

if __name__ == "__main__":
    serve(AuditSettings(), create_app)
