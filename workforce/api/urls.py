from rest_framework.routers import SimpleRouter

from workforce.api import views

router = SimpleRouter()
router.register("people", views.PersonViewSet, basename="person")
router.register("skills", views.SkillViewSet, basename="skill")

urlpatterns = router.urls
