"""Generates data/usage_churn.csv: a usage-heavy churn table whose signal a linear model cannot
capture (thresholds, a U-shape, interactions, an exclusive-or), for checking that model selection
picks boosted trees where they are right, as it picks logistic regression on Telco.

Pure Python (random.Random is the same on every platform for a given seed):
    python3 scripts/make_usage_churn.py [rows] [seed] > data/usage_churn.csv
"""

import math
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2026
rng = random.Random(seed)

print("account_id,age,region,products,balance,monthly_fee,discount,tenure_months,"
      "logins_prev_30d,logins_30d,support_tickets,churned")
for i in range(rows):
    age = rng.randint(18, 80)
    region = rng.choice(["North", "South", "East", "West"])
    products = rng.choices([1, 2, 3, 4], weights=[45, 40, 10, 5])[0]
    balance = round(math.exp(rng.gauss(8.5, 1.2)), 2) if rng.random() > 0.3 else 0.0
    monthly_fee = round(rng.uniform(10, 200), 2)
    discount = int(rng.random() < 0.35)
    tenure = rng.randint(1, 120)
    prev = max(0, int(rng.gauss(20, 8)))
    drop = rng.random() < 0.25
    now = max(0, int(prev * (rng.uniform(0.0, 0.45) if drop else rng.uniform(0.7, 1.3))))
    tickets = min(6, int(rng.expovariate(0.9)))

    logit = -2.2
    logit += 2.2 if now < 0.5 * max(prev, 1) else 0.0          # usage collapsed
    logit += 1.3 if age < 25 or age > 65 else 0.0               # U-shape in age
    logit += {1: 0.4, 2: -0.6, 3: 1.8, 4: 2.4}[products]        # non-monotone
    logit += 1.6 if tickets >= 3 and tenure < 12 else 0.0       # interaction
    logit += 1.1 if (discount == 1) != (monthly_fee > 100) else 0.0  # exclusive-or
    logit += 0.9 if balance > 20000 and products == 1 else 0.0  # interaction
    churned = "Yes" if rng.random() < 1 / (1 + math.exp(-logit)) else "No"
    print(f"U{i:06d},{age},{region},{products},{balance},{monthly_fee},{discount},{tenure},"
          f"{prev},{now},{tickets},{churned}")
