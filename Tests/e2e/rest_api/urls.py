from rest_framework.routers import DefaultRouter

from rest_api.projects.views import PagedProjectViewSet, ProjectViewSet

router = DefaultRouter(trailing_slash=True)
router.register("projects", ProjectViewSet, basename="project")
router.register("paged-projects", PagedProjectViewSet, basename="paged-project")
urlpatterns = router.urls
