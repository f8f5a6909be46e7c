"""A rapha-host federation on Flower: thin apps that move files and call the binary."""
