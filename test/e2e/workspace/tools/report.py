from measure import circle_area, rectangle_area, total_area

SHAPES = [
    {"kind": "rectangle", "width": 3, "height": 4},
    {"kind": "circle", "radius": 2},
]


def report(shapes):
    for shape in shapes:
        print(shape["kind"], total_area([shape]))
    print("total", total_area(shapes))


if __name__ == "__main__":
    report(SHAPES)
