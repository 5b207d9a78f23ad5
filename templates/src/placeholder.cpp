// Placeholder so the module builds before its first real source; delete when adding one.
namespace darasa::templates { int placeholder() { return 0; } }
