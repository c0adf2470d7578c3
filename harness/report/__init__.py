"""The sign-off report: Allure 3 generated fresh per run, as a site and as one HTML file."""
