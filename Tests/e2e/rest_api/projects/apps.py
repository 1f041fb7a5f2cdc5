from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "rest_api.projects"
    label = "projects"
