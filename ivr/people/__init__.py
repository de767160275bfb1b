"""The people of the centre: staff and their duty roster, residents imported from files, dashboard users and their sessions."""
