// ID token validation arrives with the token lifecycle issue.
