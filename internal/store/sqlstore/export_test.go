package sqlstore

// Rebind exposes rebind to the external tests.
var Rebind = rebind
