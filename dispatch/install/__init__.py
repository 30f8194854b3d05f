"""Installing plugins (`tool plugin install|list|upgrade|remove|lock`): fetching and checking
sources, the store of installed versions and its atomic switch, manifests and lock files."""
