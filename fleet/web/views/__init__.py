"""One module per group of pages; each exposes an APIRouter named `router`."""
