"""Loopback HTTP servers that implement the documented endpoints, status codes and limits of the services
thisday posts to (Mastodon, a Bluesky PDS, webhook receivers), with switches to inject faults."""
