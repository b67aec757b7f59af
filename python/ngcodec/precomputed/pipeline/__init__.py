"""Jobs over whole datasets: plan the work, move arrays between inputs and volumes."""
