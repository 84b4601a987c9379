"""The master's jobs: what ``vitals.pollpush`` publishes and what ``vitals.push`` returns."""
