"""The infrastructure of the market-data alerting system (CDKTF Python); the function is in lib/lambda."""
