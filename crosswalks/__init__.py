"""Pure record transforms: Vietnamese text, standard numbers, and (later) MARC <-> DC, MODS."""
