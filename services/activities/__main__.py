from services.common.logs import serve

from .app import create_app
from .settings import ActivitiesSettings

if __name__ == "__main__":
    serve(ActivitiesSettings(), create_app)
