"""The app's screens: the dashboard (tabs when small, a grid when large) and the help screen."""
