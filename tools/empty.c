/* Placeholder so a module with no sources yet still forms a library. */
typedef int cf_empty_translation_unit;
