from rest_framework import serializers, viewsets
from rest_framework.pagination import PageNumberPagination

from rest_api.projects.models import Project


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "owner", "name", "budget"]
        read_only_fields = ["owner"]


class ProjectViewSet(viewsets.ModelViewSet):
    """The seed's pattern: every user sees and changes only their own rows."""

    serializer_class = ProjectSerializer

    def get_queryset(self):
        return Project.objects.filter(owner=self.request.user.username)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user.username)


class OnePerPage(PageNumberPagination):
    page_size = 1


class PagedProjectViewSet(ProjectViewSet):
    """The same rows one per page, DRF's {"count", "next", "previous", "results"}."""

    pagination_class = OnePerPage
