"""Photos from a URL list, the LFW archive or a folder/archive, verified and de-duplicated,
for the `download` stage: `data/raw/<class>/<file>` plus a manifest row for every item seen."""
