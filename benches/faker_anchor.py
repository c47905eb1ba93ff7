"""Anchor for the generation benchmark: Python Faker's da_DK provider making persons.

Generates name, birth date, city and postcode per person (what Faker can do for Denmark) and
prints persons per second as JSON. Run by benches/run.sh in the same session as the Rust bench.
"""
import json
import sys
import time

from faker import Faker
import faker

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
fake = Faker("da_DK")
Faker.seed(1)
start = time.perf_counter()
rows = [(fake.name(), fake.date_of_birth(), fake.city(), fake.postcode()) for _ in range(n)]
elapsed = time.perf_counter() - start
assert len(rows) == n
print(json.dumps({"tool": f"Faker {faker.VERSION} da_DK", "persons": n, "seconds": round(elapsed, 3),
                  "persons_per_second": round(n / elapsed)}))
