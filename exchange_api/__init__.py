"""CityPoints Exchange API: the HTTP service for merchants, residents, onboarding and auditors (see README.md)."""
