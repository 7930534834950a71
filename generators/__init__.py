"""Sample producers behind one interface (see ``base.Generator``)."""
