"""Demo data: deterministic generation, seeding into files, and copying into real databases."""
