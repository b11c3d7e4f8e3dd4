"""The clinic registry: clinics by id with their names, places and the four responsible parties."""
