from services.common.logs import serve

from .app import create_app
from .settings import DocumentsSettings

if __name__ == "__main__":
    serve(DocumentsSettings(), create_app)
