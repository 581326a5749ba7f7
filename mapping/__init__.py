"""From trained models to placed chip programs and back out (imported as neurochip.mapping)."""
