"""Call-answer statistics, the supervisors' dashboard figures and the office exports."""
