"""The acts of OCAM's people on the hub, each one recorded under the actor's name: the duty officer's acts."""
