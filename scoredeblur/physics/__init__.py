"""The physics of defocus: blur operators (A, Aᵀ, exact prox) that keep ``base.BlurOperator``,
blind estimation of the blur from the photo, and synthetic degradations."""
