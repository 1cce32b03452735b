import math


def rectangle_area(width, height):
    return width * height


def circle_area(radius):
    return math.pi * radius * radius


def total_area(shapes):
    total = 0
    for shape in shapes:
        if shape["kind"] == "rectangle":
            total += rectangle_area(shape["width"], shape["height"])
        else:
            total += circle_area(shape["radius"])
    return total
