"""Operations dashboards: what managers, customers and annotators see of throughput, quality and
cost. It reads every app to its left (through their selectors) and nothing reads it."""
