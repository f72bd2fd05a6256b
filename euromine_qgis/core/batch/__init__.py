"""Many sites in one run: where the sites come from, resumable mapping, and the manifests that mark them done."""
