from core.api.routers import Router
from workforce.api import views

router = Router()
router.register("people", views.PersonViewSet, basename="person")
router.register("skills", views.SkillViewSet, basename="skill")

urlpatterns = router.urls
