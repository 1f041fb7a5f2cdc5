from django.db import models


class Project(models.Model):
    owner = models.CharField(max_length=150, db_index=True)
    name = models.CharField(max_length=40)
    budget = models.IntegerField(default=0)

    class Meta:
        app_label = "projects"
        ordering = ["id"]
